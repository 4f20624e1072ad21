//! Regression tests for inputs the fuzz targets found (see fuzz/README.md).
