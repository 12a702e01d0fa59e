//! The integration tests of transit-gtfs, one test binary: the realtime feeds over a simulated
//! board, and the exported static feed through a real GTFS validator.

mod live;
mod validator;
mod vehicles;
