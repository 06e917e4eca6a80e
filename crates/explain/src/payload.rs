//! Payloads smidge builds, explained from where their bytes were laid from. (Being
//! written: see issue #11.)
