//! Admin API routes kept out of [`crate::server`]: each module adds its routes to the router
//! (`Authorization: Bearer <ARI_ADMIN_TOKEN>`, checked by [`crate::server::check_admin`]).

pub mod conversations;
pub mod outbox;
