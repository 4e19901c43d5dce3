"""Export: notebooks become runnable workflows (``workflow.py``, ``workflow.json``, ``kaizen.yaml``)."""

from kaizen_lab.export._cells import LeftOutCell, NotebookCell
from kaizen_lab.export.analyze import ExportPlan, ExportProblem, analyze_cells
from kaizen_lab.export.run import load_export, run_export
from kaizen_lab.export.writer import ExportResult, export_cells, export_notebook, read_notebook_cells

__all__ = ["ExportPlan", "ExportProblem", "ExportResult", "LeftOutCell", "NotebookCell", "analyze_cells",
           "export_cells", "export_notebook", "load_export", "read_notebook_cells", "run_export"]
