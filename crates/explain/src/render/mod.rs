//! An [`Explanation`](crate::Explanation) as a listing, JSON, or a byte-map picture.
