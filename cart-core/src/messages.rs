//! The exact texts Pacifica Cartd clients see, for servers built on this crate.

use crate::CartUid;

/// `GET /` body message.
pub const UP_AND_RUNNING: &str = "Pacifica Cartd Interface Up and Running";
/// `POST /{uid}` 201 body message.
pub const PROCESSING_BEGUN: &str = "Cart Processing has begun";
/// `GET /{uid}` 202 message while the cart is not ready.
pub const NOT_READY: &str = "The cart is not ready for download.";
/// `GET /{uid}` 404 message.
pub const NOT_FOUND_OR_DELETED: &str = "The cart does not exist or has already been deleted";
/// `DELETE /{uid}` 200 message.
pub const DELETED: &str = "Cart Deleted Successfully";
/// Cart message when the volume is full and nothing can be evicted.
pub const NO_SPACE: &str = "No Space Available";

/// `HEAD /{uid}` 404 message.
pub fn no_cart_found(uid: &CartUid) -> String {
    format!("No cart with uid {uid} found")
}

/// Cart message when a file could not be pulled.
pub fn failed_to_pull(reason: &str) -> String {
    format!("Failed to pull file({reason})")
}
