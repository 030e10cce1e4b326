"""bulk import: cases.source_ref (unique per municipality) and import_jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:10:00

The column and the unique index are added in place (no table rebuild), so on
SQLite the child tables' ON DELETE CASCADE never fires during the migration.

The downgrade keeps the data: every case's ``source_ref`` is copied to the
table ``downgrade_stash_cases_source_ref`` and ``import_jobs`` is renamed to
``downgrade_stash_import_jobs``; the next upgrade puts both back, so a
re-import after downgrade/upgrade still finds its cases instead of duplicating
them. (Cases created while downgraded simply have no ``source_ref``.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SOURCE_REF_STASH = "downgrade_stash_cases_source_ref"
JOBS_STASH = "downgrade_stash_import_jobs"


def _has_table(name: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    with op.batch_alter_table("cases", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("source_ref", sa.String(length=64), nullable=True))
    if _has_table(SOURCE_REF_STASH):
        op.execute(
            "UPDATE cases SET source_ref = (SELECT s.source_ref "
            "FROM downgrade_stash_cases_source_ref s WHERE s.case_id = cases.id) "
            "WHERE id IN (SELECT case_id FROM downgrade_stash_cases_source_ref)"
        )
        op.drop_table(SOURCE_REF_STASH)
    op.create_index(
        "ix_cases_municipality_source_ref",
        "cases",
        ["municipality_code", "source_ref"],
        unique=True,
    )
    if _has_table(JOBS_STASH):
        op.rename_table(JOBS_STASH, "import_jobs")
        return
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("municipality_code", sa.String(length=4), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("skip_invalid", sa.Boolean(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'rejected', 'failed')",
            name=op.f("ck_import_jobs_state"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_import_jobs_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        op.f("ix_import_jobs_municipality_code"), "import_jobs", ["municipality_code"], unique=False
    )


def downgrade() -> None:
    op.rename_table("import_jobs", JOBS_STASH)
    op.create_table(
        SOURCE_REF_STASH,
        sa.Column("case_id", sa.Uuid(), primary_key=True),
        sa.Column("source_ref", sa.String(length=64), nullable=False),
    )
    op.execute(
        "INSERT INTO downgrade_stash_cases_source_ref (case_id, source_ref) "
        "SELECT id, source_ref FROM cases WHERE source_ref IS NOT NULL"
    )
    op.drop_index("ix_cases_municipality_source_ref", table_name="cases")
    with op.batch_alter_table("cases", recreate="never") as batch_op:
        batch_op.drop_column("source_ref")
