"""Official documents: PDF rendering, yearly numbering, documents archived as cases change state."""
