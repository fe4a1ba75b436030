"""Who acts next on a rectification case, as viewflow human-task nodes built from its declaration.

The class keeps its name and module: viewflow stores them in every process and task row."""
from workflow.cases.flows import build_flow

from .declaration import Rectification

RectificationFlow = build_flow(Rectification, "RectificationFlow", __name__,
                               "Rectification task\n\nIssue → sign → rectify → unit-head approval → review → "
                               "leader sign-off.")
