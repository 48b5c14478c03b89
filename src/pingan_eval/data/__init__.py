"""Data in: reading raw survey files, the codebook, row validation, preparing weighted waves.

``readers`` reads CSV/XLSX tables and the reference tables (``raw_records`` finds the
encoding and splits a file into records); ``column_map`` reads survey exports (问卷星,
腾讯问卷, Excel forms) through the dataset's ``columns.toml`` and ``wave_files`` merges a
wave of several such files; ``codebook`` and ``validation`` check every row
and say why a row is rejected; ``prepare`` writes ``data/processed/<period>/`` atomically,
weighted by ``wave_weights`` (base weight, non-response, raking to the census), and
``processed`` reads it back; ``synth`` writes the shipped sample county. Raw data under
``data/raw/`` is never written.
"""
