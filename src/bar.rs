//! A progress bar on stderr when it is a terminal (what is being done, bytes, rate); for
//! work under [`Bar::MIN_BYTES`] or when stderr is not a terminal, nothing.

use std::io::IsTerminal;
use std::sync::Mutex;

use smidge_image::progress::Progress;

pub struct Bar {
    on: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Bar {
    /// Pieces of work smaller than this (32 MiB) get no bar.
    const MIN_BYTES: u64 = 32 << 20;

    pub fn new() -> Bar {
        Bar {
            on: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    /// Clears whatever is drawn.
    pub fn done(&self) {
        if let Some(b) = self.bar.lock().expect("not poisoned").take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        self.done();
        if !self.on || total < Self::MIN_BYTES {
            return;
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {msg:24} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        *self.bar.lock().expect("not poisoned") = Some(bar);
    }

    fn advance(&self, bytes: u64) {
        if let Some(b) = &*self.bar.lock().expect("not poisoned") {
            b.inc(bytes);
        }
    }

    fn finish(&self) {
        self.done();
    }
}
