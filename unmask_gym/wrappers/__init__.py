"""Adapters to other array libraries and RL libraries."""

from unmask_gym.wrappers.numpy import NumpyVectorEnv, to_numpy

__all__ = ["NumpyVectorEnv", "to_numpy"]
