"""Administrative registers: safe-cell naming (``cells``), campaign task logs (``tasks``).

``columns`` holds the typed, checked register columns both share; ``judge`` judges both
once per month for the summary and the reports (and caches the tables for a batch).
"""
