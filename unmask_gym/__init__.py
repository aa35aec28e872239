"""unmask-gym: learning how masked diffusion language models should unmask, as a Gymnasium environment.

Importing the package registers the ``UnmaskGym/<Task>-v<N>`` ids (``registration.registered_ids()``) for
``gymnasium.make`` and ``gymnasium.make_vec``.
"""

from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.registration import register_envs
from unmask_gym.single_env import UnmaskEnv
from unmask_gym.wrappers.numpy import NumpyVectorEnv

__version__ = "0.1.0"

register_envs()

__all__ = ["NumpyVectorEnv", "UnmaskEnv", "UnmaskVectorEnv", "__version__"]
