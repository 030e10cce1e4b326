"""population figures (isu population import) and the national hub's submissions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00

Three new tables only; nothing existing is altered.

The downgrade keeps their rows (population figures, and the submissions a
national hub has received): the tables are renamed to ``downgrade_stash_*``
and the next upgrade renames them back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("population_figures", "submissions", "submission_files")
STASH_PREFIX = "downgrade_stash_"


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if {STASH_PREFIX + name for name in TABLES} <= existing:
        for name in TABLES:
            op.rename_table(STASH_PREFIX + name, name)
        return
    op.create_table(
        "population_figures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("area_code", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("population >= 0", name=op.f("ck_population_figures_population")),
        sa.CheckConstraint("sex IN ('T', 'K', 'M')", name=op.f("ck_population_figures_sex")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_population_figures")),
        sa.UniqueConstraint(
            "area_code", "year", "sex", name=op.f("uq_population_figures_area_code_year_sex")
        ),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("package_id", sa.Uuid(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("municipality_code", sa.String(length=4), nullable=False),
        sa.Column("period", sa.String(length=9), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("catalogue_version", sa.String(length=40), nullable=False),
        sa.Column(
            "manifest",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("status IN ('accepted')", name=op.f("ck_submissions_status")),
        sa.ForeignKeyConstraint(
            ["received_by_id"], ["users.id"], name=op.f("fk_submissions_received_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "municipality_code",
            "period",
            "version",
            name=op.f("uq_submissions_municipality_code_period_version"),
        ),
        sa.UniqueConstraint("package_id", name=op.f("uq_submissions_package_id")),
    )
    op.create_index(
        "ix_submissions_period_municipality",
        "submissions",
        ["period", "municipality_code"],
        unique=False,
    )
    op.create_table(
        "submission_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_files_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_files")),
        sa.UniqueConstraint(
            "submission_id", "name", name=op.f("uq_submission_files_submission_id_name")
        ),
    )
    op.create_index(
        op.f("ix_submission_files_submission_id"),
        "submission_files",
        ["submission_id"],
        unique=False,
    )


def downgrade() -> None:
    for name in TABLES:
        op.rename_table(name, STASH_PREFIX + name)
