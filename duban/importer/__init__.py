"""12345 export → tickets: read the file, normalise each row, validate, upsert by 工单编号.

The city platform's export changes shape from year to year (a title row above the header,
other column names, dates as cells or as text, ids as numbers). This package turns any of
those into `Ticket` rows, and never guesses silently:

- a column is recognised by a synonym or by a mapping the user saved (`ColumnMapping`);
  unknown columns are kept per ticket in `Ticket.raw` and listed in the report;
- a row that cannot be read is rejected with the row number Excel shows, the column and
  the reason; the others are imported in the caller's one transaction;
- a file that cannot be read at all (encrypted, corrupt, empty, no 工单编号/诉求时间 header)
  is refused whole before anything is written (`ImportRefused`).

Upsert by `ticket_no`: platform fields are refreshed, the center's own fields (notes,
tags, repeat group, case links) are never touched. The unit is special: the center may
correct a ticket's unit in the ledger. A correction is recognised without extra state: a
ticket whose `unit_id` is set and differs from the unit its stored `unit_raw` resolves to
was corrected by the center, and a re-import keeps that `unit_id` (it still refreshes
`unit_raw`, the platform's word).

History: each changed field of an updated ticket gets its own audit row; a new ticket's
creation is the batch's audit row, which the ticket references by `import_batch_id`
(`tickets.ticket_history` reads it back as the ticket's first entry).

Speed: Excel is read with python-calamine, new rows and audit rows go to the driver at once
(`duban.bulk`: executemany on SQLite, COPY on PostgreSQL), updates are Core bulk statements,
existing tickets are fetched by number in chunks.

One module a concern: `fields` (the seed's field labels, header synonyms, value words,
limits, and the import report), `values` (parsing one cell), `units` (resolving a unit's
name), `sheets` (reading the file and recognising its header), `rows` (parsing and checking
the rows), `writing` (the upsert) and `mapping` (after the import: unknown units and columns,
history).
"""

from duban.importer.fields import (
    FIELD_LABELS,
    IGNORE,
    MAPPABLE_FIELDS,
    RESOLUTION_WORDS,
    CellError,
    ImportRefused,
    Reject,
)
from duban.importer.mapping import (
    assign_unassigned,
    create_unit_for,
    map_unit_alias,
    save_column_mapping,
)
from duban.importer.sheets import locate
from duban.importer.units import UnitResolver
from duban.importer.values import parse_datetime, parse_ticket_no, tidy, tidy_long
from duban.importer.writing import import_tickets

__all__ = [
    "CellError",
    "FIELD_LABELS",
    "IGNORE",
    "ImportRefused",
    "MAPPABLE_FIELDS",
    "RESOLUTION_WORDS",
    "Reject",
    "UnitResolver",
    "assign_unassigned",
    "create_unit_for",
    "import_tickets",
    "locate",
    "map_unit_alias",
    "parse_datetime",
    "parse_ticket_no",
    "save_column_mapping",
    "tidy",
    "tidy_long",
]
