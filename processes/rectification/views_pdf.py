"""The 整改通知书 PDF view (being written)."""
