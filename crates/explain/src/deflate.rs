//! DEFLATE streams walked block by block (issue #11).
