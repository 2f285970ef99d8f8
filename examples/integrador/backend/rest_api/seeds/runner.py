"""Demo data: `python -m rest_api.seeds.runner` (from backend/, with .env loaded) inserts the demo menu.

Run once per fresh database by the provisioning (app_services_api_seed); it is not
idempotent on purpose, as many real seeds are not: a second run fails on the unique
names, so running it twice would show."""

import asyncio

from sqlalchemy import text

from integrador_deps import async_url, create_engine_for

INSERT = "INSERT INTO menu_items (name, price_cents, embedding) VALUES (:n, :p, CAST(:e AS vector))"
MENU = [
    ("Milanesa napolitana", 1250, "[0.9,0.1,0.3]"),
    ("Empanadas de carne", 800, "[0.8,0.2,0.1]"),
    ("Flan con dulce de leche", 600, "[0.1,0.9,0.4]"),
]


async def seed() -> None:
    engine = create_engine_for(async_url())
    async with engine.begin() as connection:
        for name, price, embedding in MENU:
            await connection.execute(
                text(INSERT),
                {"n": name, "p": price, "e": embedding},
            )
    await engine.dispose()
    print(f"seeded {len(MENU)} menu items")


if __name__ == "__main__":
    asyncio.run(seed())
