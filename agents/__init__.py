"""Agents for unmask-gym: the paper's policy network and its trainers (built in a later issue)."""
