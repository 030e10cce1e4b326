"""bulk import: cases.source_ref (unique per municipality) and import_jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:10:00

The column and the unique index are added in place (no table rebuild), so on
SQLite the child tables' ON DELETE CASCADE never fires during the migration.
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


def upgrade() -> None:
    with op.batch_alter_table("cases", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("source_ref", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_cases_municipality_source_ref",
        "cases",
        ["municipality_code", "source_ref"],
        unique=True,
    )
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
    op.drop_index(op.f("ix_import_jobs_municipality_code"), table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_index("ix_cases_municipality_source_ref", table_name="cases")
    with op.batch_alter_table("cases", recreate="never") as batch_op:
        batch_op.drop_column("source_ref")
