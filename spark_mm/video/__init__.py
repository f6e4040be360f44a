"""Video curation beyond container metadata: scene clips (``clips:`` step) and their ids. See docs/video.md."""
