"""Data in: reading raw survey files, the codebook, row validation, preparing weighted waves.

``readers`` finds encodings and reads CSV/XLSX; ``codebook`` and ``validation`` check every
row and say why a row is rejected; ``prepare`` writes ``data/processed/<period>/``
atomically (weights: base weight, non-response, raking to the census); ``synth`` writes the
shipped sample county. Raw data under ``data/raw/`` is never written.
"""
