//! tar archives explained header field by header field (issue #11).
