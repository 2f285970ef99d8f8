"""Demo REST API with the same health and configuration contract as Integrador's."""
