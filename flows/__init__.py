"""crucible-prefect ready-made flows: ingest, link, mirror."""
