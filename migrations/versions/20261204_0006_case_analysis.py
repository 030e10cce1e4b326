"""case_analysis: the flat, typed analysis table (one row per case)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 12:00:00

One row per case with a typed column per shared catalogue variable (a boolean
per multi-choice code, NULL when not registered), the derived fields every
statistic reads and a bit mask per multi-choice family for the columnar
reader (docs/analysis-frame.md). The table is created empty: ``isu db
upgrade`` fills it from the cases afterwards (``isu analysis rebuild``), as
the application writes it from then on in the same transaction as the case.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_analysis",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("unit_kind", sa.SmallInteger(), nullable=True),
        sa.Column("municipality_code", sa.String(length=4), nullable=False),
        sa.Column("county_code", sa.String(length=2), nullable=True),
        sa.Column("district_code", sa.String(length=10), nullable=True),
        sa.Column("actualised_on", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("is_excluded", sa.Boolean(), nullable=False),
        sa.Column("exclusion_reason", sa.String(length=30), nullable=True),
        sa.Column("sex", sa.SmallInteger(), nullable=True),
        sa.Column("age_basis", sa.SmallInteger(), nullable=True),
        sa.Column("origin", sa.SmallInteger(), nullable=True),
        sa.Column("implementation", sa.SmallInteger(), nullable=True),
        sa.Column("goal_followup", sa.SmallInteger(), nullable=True),
        sa.Column("closing_reason", sa.SmallInteger(), nullable=True),
        sa.Column("honour_context", sa.SmallInteger(), nullable=True),
        sa.Column("violence_severity", sa.SmallInteger(), nullable=True),
        sa.Column("change_goal", sa.SmallInteger(), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("disability__1", sa.Boolean(), nullable=True),
        sa.Column("disability__2", sa.Boolean(), nullable=True),
        sa.Column("disability__3", sa.Boolean(), nullable=True),
        sa.Column("disability__4", sa.Boolean(), nullable=True),
        sa.Column("disability__5", sa.Boolean(), nullable=True),
        sa.Column("disability_count", sa.Integer(), nullable=True),
        sa.Column("disability__bits", sa.BigInteger(), nullable=True),
        sa.Column("child_followup__1", sa.Boolean(), nullable=True),
        sa.Column("child_followup__2", sa.Boolean(), nullable=True),
        sa.Column("child_followup__3", sa.Boolean(), nullable=True),
        sa.Column("child_followup__4", sa.Boolean(), nullable=True),
        sa.Column("child_followup__5", sa.Boolean(), nullable=True),
        sa.Column("child_followup__6", sa.Boolean(), nullable=True),
        sa.Column("child_followup__7", sa.Boolean(), nullable=True),
        sa.Column("child_followup_count", sa.Integer(), nullable=True),
        sa.Column("child_followup__bits", sa.BigInteger(), nullable=True),
        sa.Column("contact_initiative__1", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__2", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__3", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__4", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__5", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__6", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__7", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__8", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__9", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__10", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__11", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__12", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__13", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative__14", sa.Boolean(), nullable=True),
        sa.Column("contact_initiative_count", sa.Integer(), nullable=True),
        sa.Column("contact_initiative__bits", sa.BigInteger(), nullable=True),
        sa.Column("perpetrator__1", sa.Boolean(), nullable=True),
        sa.Column("perpetrator__2", sa.Boolean(), nullable=True),
        sa.Column("perpetrator__3", sa.Boolean(), nullable=True),
        sa.Column("perpetrator__4", sa.Boolean(), nullable=True),
        sa.Column("perpetrator__5", sa.Boolean(), nullable=True),
        sa.Column("perpetrator__6", sa.Boolean(), nullable=True),
        sa.Column("perpetrator_count", sa.Integer(), nullable=True),
        sa.Column("perpetrator__bits", sa.BigInteger(), nullable=True),
        sa.Column("collaboration__1", sa.Boolean(), nullable=True),
        sa.Column("collaboration__2", sa.Boolean(), nullable=True),
        sa.Column("collaboration__3", sa.Boolean(), nullable=True),
        sa.Column("collaboration__4", sa.Boolean(), nullable=True),
        sa.Column("collaboration__5", sa.Boolean(), nullable=True),
        sa.Column("collaboration__6", sa.Boolean(), nullable=True),
        sa.Column("collaboration__7", sa.Boolean(), nullable=True),
        sa.Column("collaboration__8", sa.Boolean(), nullable=True),
        sa.Column("collaboration__9", sa.Boolean(), nullable=True),
        sa.Column("collaboration_count", sa.Integer(), nullable=True),
        sa.Column("collaboration__bits", sa.BigInteger(), nullable=True),
        sa.Column("n_intervention_records", sa.Integer(), nullable=False),
        sa.Column("n_intervention_types", sa.Integer(), nullable=False),
        sa.Column("first_intervention_on", sa.Date(), nullable=True),
        sa.Column("n_risk_assessments", sa.Integer(), nullable=False),
        sa.Column("intervention_type__1", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__2", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__3", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__4", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__5", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__6", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__7", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__8", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__9", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__10", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__11", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__12", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__13", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__14", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__15", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__16", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__17", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__18", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__19", sa.Boolean(), nullable=False),
        sa.Column("intervention_type__bits", sa.BigInteger(), nullable=False),
        sa.Column("intervention_grounds__1", sa.Boolean(), nullable=False),
        sa.Column("intervention_grounds__2", sa.Boolean(), nullable=False),
        sa.Column("intervention_grounds__3", sa.Boolean(), nullable=False),
        sa.Column("intervention_grounds__bits", sa.BigInteger(), nullable=False),
        sa.Column("risk_instrument__1", sa.Boolean(), nullable=False),
        sa.Column("risk_instrument__2", sa.Boolean(), nullable=False),
        sa.Column("risk_instrument__3", sa.Boolean(), nullable=False),
        sa.Column("risk_instrument__4", sa.Boolean(), nullable=False),
        sa.Column("risk_instrument__5", sa.Boolean(), nullable=False),
        sa.Column("risk_instrument__6", sa.Boolean(), nullable=False),
        sa.Column("risk_instrument__bits", sa.BigInteger(), nullable=False),
        sa.Column("risk_first_score", sa.SmallInteger(), nullable=True),
        sa.Column("risk_last_score", sa.SmallInteger(), nullable=True),
        sa.Column("n_risk_scores", sa.Integer(), nullable=False),
        sa.Column("risk_score_change", sa.String(length=6), nullable=True),
        sa.Column("has_survey", sa.Boolean(), nullable=False),
        sa.Column("survey_answered_on", sa.Date(), nullable=True),
        sa.Column("survey_language", sa.SmallInteger(), nullable=True),
        sa.Column("survey_mode", sa.SmallInteger(), nullable=True),
        sa.Column("survey_violence_change", sa.SmallInteger(), nullable=True),
        sa.Column("survey_support_importance", sa.SmallInteger(), nullable=True),
        sa.Column("survey_positive", sa.SmallInteger(), nullable=True),
        sa.Column("survey_influence", sa.SmallInteger(), nullable=True),
        sa.Column("age_band", sa.String(length=8), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("duration_bin", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column(
            "local_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("write_token", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_analysis_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_analysis")),
    )
    op.create_index(
        "ix_case_analysis_actualised_on", "case_analysis", ["actualised_on"], unique=False
    )
    op.create_index(
        "ix_case_analysis_municipality_actualised",
        "case_analysis",
        ["municipality_code", "actualised_on"],
        unique=False,
    )
    op.create_index("ix_case_analysis_unit_id", "case_analysis", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_analysis_unit_id", table_name="case_analysis")
    op.drop_index("ix_case_analysis_municipality_actualised", table_name="case_analysis")
    op.drop_index("ix_case_analysis_actualised_on", table_name="case_analysis")
    op.drop_table("case_analysis")
