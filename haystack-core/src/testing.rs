//! Generators of realistic test data (grids of sites, equipment and points) for tests and benchmarks.
