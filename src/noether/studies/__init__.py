"""Experiments that answer a paper's question, each behind a `noether` command."""
