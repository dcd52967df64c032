"""Resource namespaces of :class:`crucible.CrucibleClient`."""

from .datasets import Datasets
from .deletions import Deletions
from .files import Files
from .graphs import Graphs
from .ingestions import IngestionFailed, Ingestions
from .instruments import Instruments
from .projects import Projects
from .samples import Samples
from .users import Users

__all__ = ["Datasets", "Deletions", "Files", "Graphs", "IngestionFailed", "Ingestions",
           "Instruments", "Projects", "Samples", "Users"]
