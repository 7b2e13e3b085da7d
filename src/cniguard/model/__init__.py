"""The pure data model: inventory (input of the rules) and findings/report (their output)."""
