"""Menu items, with an embedding for the recommendations (pgvector).

Revision ID: 0001_menu_items
Revises:
"""

from alembic import op

revision = "0001_menu_items"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        "CREATE TABLE menu_items ("
        " id serial PRIMARY KEY,"
        " name text NOT NULL UNIQUE,"
        " price_cents integer NOT NULL,"
        " embedding vector(3)"
        ")"
    )


def downgrade() -> None:
    op.execute("DROP TABLE menu_items")
