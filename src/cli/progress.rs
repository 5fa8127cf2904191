//! The progress bar of long commands (`sync`, `scan --all`).

/// A progress bar on standard error when it is a terminal; silent otherwise.
pub(super) struct Progress(Option<indicatif::ProgressBar>);

pub(super) fn progress_bar(what: &str) -> Progress {
    Progress(std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        let template = format!("{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{eta}})");
        bar.set_style(indicatif::ProgressStyle::with_template(&template).expect("valid template"));
        bar
    }))
}

impl Progress {
    pub(super) fn update(&self, done: usize, total: usize) {
        if let Some(bar) = &self.0 {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    pub(super) fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}
