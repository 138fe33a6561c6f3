//! Status pages: `StatusPage` resources served as HTML (`/status/{slug}`), JSON
//! (`.json`), an Atom feed of incidents (`.atom`), and badges of single checks
//! (`/badge/{tenant}/{check}/…svg`); also at `/` for a request whose `Host` is a
//! page's `domain`. Public routes outside `/api/v1`: a page shows only what it
//! lists, a private page needs its token, and rendered bytes are cached briefly.

pub mod badge;
pub mod cache;
pub mod data;
pub mod feed;
pub mod html;
pub mod markdown;
pub mod serve;

pub use serve::Status;
