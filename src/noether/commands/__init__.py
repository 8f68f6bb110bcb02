"""Command implementations behind `noether` subcommands that belong to no single layer."""
