"""The analysis table: one flat, typed row per case, kept in step with every
write, read columnar by every statistic (DESIGN.md §5; docs/analysis-frame.md).

Importing this package defines the ``case_analysis`` table on the models'
metadata and registers the write hook (:mod:`app.analysis.sync`) once.
"""

from app.analysis import sync as sync
from app.analysis import table as table
