"""dg's defs folder: Component instances only (a defs.yaml per folder, a task's GbmlConfig
template beside it). The code that builds them lies in gnn_assets/lib/."""
