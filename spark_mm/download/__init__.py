"""Image downloader: links in ``<ns>.image_links`` → fetched bytes (pure Python; Spark wiring in ``engine/download.py``)."""
