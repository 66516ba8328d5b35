"""The usage and funding report (SPEC §7): its figures and the files that carry them.

- ``build.py``: the period's figures, added up in the database (:func:`build`),
  and the two large tables streamed row by row (:func:`iter_calls`,
  :func:`iter_ledger`). Pure data: no terminal, no file format.
- ``xlsx.py``: the figures as an Excel workbook.
- ``csv.py``: the same tables as CSV files, one per sheet.

What people read (sheet names, headers, the summary's sections and items) is
in the current language: a tenant's workbook is written inside
``i18n.speaking(tenant.lang)`` or with ``lang=``. What scripts read (the JSON
document, the CSV files' columns and values, summary.csv's ``key``) is the
same in every language; a sentence that is both (why the period was chosen,
why a call's charge differs) is a :class:`credits_cli.phrases.Phrase`: English
as data, said in the reader's language where it is shown.

Nothing is imported here, so ``from credits_cli.reports import build`` loads
only what it names.
"""
