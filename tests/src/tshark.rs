//! tshark as an independent dissector in end-to-end tests: a capture on loopback started and
//! stopped around a test, and reads of the capture with display filters and decode-as rules.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Capture {
    child: Child,
    file: tempfile::NamedTempFile,
}

impl Capture {
    /// tshark capturing on loopback with a capture filter (`tcp or udp`, ...); returns once it
    /// reports that capture started.
    pub fn start(filter: &str) -> Capture {
        let file = tempfile::Builder::new()
            .suffix(".pcap")
            .tempfile()
            .expect("temp file");
        let mut child = Command::new("tshark")
            .args(["-i", "lo", "-f", filter, "-w"])
            .arg(file.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tshark is missing: apt-get install -y tshark");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("Capturing on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("tshark started capturing");
        // dumpcap reports before the first packet is taken; give it a moment to be live
        std::thread::sleep(Duration::from_millis(500));
        Capture { child, file }
    }

    /// Stops the capture (SIGINT, so the file is complete) and returns it.
    pub fn stop(mut self) -> tempfile::NamedTempFile {
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.file;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.file
    }
}

/// `tshark -r file -d <decode_as>... -Y filter <extra>`; its stdout (one line per frame).
pub fn read(file: &Path, decode_as: &[String], filter: &str, extra: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file);
    for d in decode_as {
        cmd.args(["-d", d]);
    }
    let out = cmd
        .args(["-Y", filter])
        .args(extra)
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
