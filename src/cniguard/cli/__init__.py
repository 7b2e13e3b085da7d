"""The command line. Heavy libraries are imported inside commands so `--help` stays instant."""
