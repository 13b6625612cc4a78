"""Layouts as data: construct structs and constants of each layout family, per Go version."""
