"""The usage and funding report (SPEC §7): its figures and the files that carry them.

- ``build.py``: the period's figures, added up in the database (:func:`build`),
  and the two large tables streamed row by row (:func:`iter_calls`,
  :func:`iter_ledger`). Pure data: no terminal, no file format.
- ``xlsx.py``: the figures as an Excel workbook.
- ``csv.py``: the same tables as CSV files, one per sheet.

Nothing is imported here, so ``from credits_cli.reports import build`` loads
only what it names.
"""
