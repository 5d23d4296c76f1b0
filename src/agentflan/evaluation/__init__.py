"""Evaluation: the Agent-H benchmark, batched generation, judges and scoring."""
