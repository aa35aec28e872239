"""Adapters to other array libraries and RL libraries, and low-dimensional action spaces.

``SB3VecEnv`` (``unmask_gym.wrappers.sb3``) and ``TorchRLEnv`` (``unmask_gym.wrappers.torchrl``) import their
library, so they are not imported here.
"""

from unmask_gym.wrappers.actions import ThresholdAction, TopKAction, VectorThresholdAction, VectorTopKAction
from unmask_gym.wrappers.numpy import NumpyVectorEnv, to_numpy

__all__ = ["NumpyVectorEnv", "ThresholdAction", "TopKAction", "VectorThresholdAction", "VectorTopKAction", "to_numpy"]
