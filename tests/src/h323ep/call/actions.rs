//! What a call does on its own once its media is up (caller: its OpenLogicalChannelAck or
//! fastStart answer; callee: the first channel acked either way): the `--dtmf` digits as
//! UserInputIndication 200 ms apart (`dtmf-sent` {digit, kind}), and `--pause-at-ms` /
//! `--resume-at-ms` (the empty and the full TerminalCapabilitySet). [`Schedule`] is the plan,
//! pure over `Instant`s; the `Call` methods carry it out.
//!
//! Also the per-phase RTP counts: `paused`, `resumed`, `pause-sent` and `resume-sent` carry
//! `sent_so_far` and `received_so_far` (packets, as the final `rtp` counts them).

use super::*;
use crate::h323ep::uii;

/// Time between two `--dtmf` digits.
const DIGIT_EVERY: Duration = Duration::from_millis(200);
/// The duration a UserInputIndication.signal gives each digit, ms.
const DIGIT_MS: u16 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Digit(char),
    Pause,
    Resume,
}

/// The actions still to come, earliest first.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    due: Vec<(Instant, Action)>,
}

impl Schedule {
    /// The plan from the moment the media came up.
    pub(super) fn plan(
        up: Instant,
        digits: &[char],
        pause_at: Option<Duration>,
        resume_at: Option<Duration>,
    ) -> Schedule {
        let mut due: Vec<(Instant, Action)> = (0u32..)
            .zip(digits)
            .map(|(i, &d)| (up + DIGIT_EVERY * i, Action::Digit(d)))
            .collect();
        if let Some(p) = pause_at {
            due.push((up + p, Action::Pause));
            if let Some(r) = resume_at {
                due.push((up + r, Action::Resume));
            }
        }
        // stable: digits keep their order, and a pause before its resume
        due.sort_by_key(|(at, _)| *at);
        Schedule { due }
    }

    pub(super) fn next_at(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }

    /// The actions due at `now`, in order.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<Action> {
        let n = self.due.iter().take_while(|(at, _)| *at <= now).count();
        self.due.drain(..n).map(|(_, a)| a).collect()
    }
}

/// Events that carry the RTP counts so far.
const COUNTED: [&str; 4] = ["paused", "resumed", "pause-sent", "resume-sent"];

impl Call {
    /// Starts the schedule the first time the media is up.
    pub(super) fn check_media_up(&mut self) {
        let s = &self.session;
        let up = s.olc_acked || (!self.caller && s.olc_received);
        if self.media_up || !up {
            return;
        }
        self.media_up = true;
        let a = &self.ep.args;
        // checked at start-up (EpArgs::checked): a bad --dtmf never gets this far
        let digits = a.checked().unwrap_or_default();
        let ms = |v: Option<u64>| v.map(Duration::from_millis);
        self.actions = Schedule::plan(
            Instant::now(),
            &digits,
            ms(a.pause_at_ms),
            ms(a.resume_at_ms),
        );
    }

    /// Adds the RTP counts to the events that carry them.
    pub(super) fn stamp(&self, mut e: serde_json::Value) -> serde_json::Value {
        if COUNTED.iter().any(|c| e["event"] == *c) {
            let (sent, received) = self.media.counts();
            e["sent_so_far"] = json!(sent);
            e["received_so_far"] = json!(received);
        }
        e
    }

    /// Carries out what is due now.
    pub(super) async fn run_due(&mut self) -> Result<(), String> {
        for a in self.actions.take_due(Instant::now()) {
            if self.ending {
                return Ok(());
            }
            match a {
                Action::Digit(d) => {
                    let mode = self.ep.args.dtmf_mode;
                    self.send_h245(vec![uii::build(d, mode, DIGIT_MS)?]).await?;
                    emit(json!({"event":"dtmf-sent","digit":d.to_string(),"kind":mode.kind()}));
                }
                Action::Pause | Action::Resume => {
                    let out = if a == Action::Pause {
                        self.session.pause()
                    } else {
                        self.session.resume()
                    };
                    self.send_h245(out.send).await?;
                    self.h245_events(out.events);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_200_ms_apart_then_pause_and_resume_in_time_order() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Schedule::plan(t0, &['1', '2', '#'], Some(ms(300)), Some(ms(1000)));
        assert_eq!(s.next_at(), Some(t0));
        assert_eq!(s.take_due(t0), vec![Action::Digit('1')]);
        assert_eq!(s.take_due(t0 + ms(199)), vec![]);
        assert_eq!(s.next_at(), Some(t0 + ms(200)));
        assert_eq!(
            s.take_due(t0 + ms(450)),
            vec![Action::Digit('2'), Action::Pause, Action::Digit('#')]
        );
        assert_eq!(s.next_at(), Some(t0 + ms(1000)));
        assert_eq!(s.take_due(t0 + ms(5000)), vec![Action::Resume]);
        assert_eq!(s.next_at(), None);
    }

    #[test]
    fn nothing_planned_without_options_and_no_resume_without_pause() {
        let t0 = Instant::now();
        assert_eq!(Schedule::plan(t0, &[], None, None).next_at(), None);
        let s = Schedule::plan(t0, &[], None, Some(Duration::from_millis(5)));
        assert_eq!(s.next_at(), None);
    }
}
