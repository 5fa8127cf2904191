//! Stopping the background loops cleanly: a loop finishes the pass it is in, then ends.

use tokio::sync::watch;

/// Tells background loops to stop after their current pass: send `true` through its sender.
/// A receiver whose sender is gone never stops its loop (the loop then ends only when aborted).
pub type Stop = watch::Receiver<bool>;

/// A [`Stop`] that never says stop (for loops that run until aborted).
pub fn never() -> Stop {
    watch::channel(false).1
}

/// Resolves once stopping was asked for; never when the sender is gone without asking.
pub async fn requested(stop: &mut Stop) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}
