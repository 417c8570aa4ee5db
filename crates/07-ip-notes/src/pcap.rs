//! `pcap`: saving captured packets in the classic pcap format, which tcpdump, Wireshark and
//! every other capture tool read.
//!
//! A pcap file is a 24-byte global header, then one 16-byte record header per packet followed
//! by the packet's bytes. Numbers are in the writer's byte order: the reader tells which from
//! the magic number `a1b2c3d4` (read back as `d4c3b2a1`, it knows to swap). The link type says
//! where each packet starts; ours start at the IP header, with no Ethernet header before them,
//! which is `LINKTYPE_RAW` (101): the version nibble tells IPv4 from IPv6.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The magic number: seconds and microseconds in each record (`a1b23c4d` would be nanoseconds).
const MAGIC: u32 = 0xa1b2_c3d4;
/// Format version 2.4, the only one there is.
const VERSION: (u16, u16) = (2, 4);
/// The most bytes of one packet the file keeps: an IPv4 packet's largest size.
pub const SNAPLEN: u32 = 65_535;
/// Packets start at their IP header (no link-layer header).
const LINKTYPE_RAW: u32 = 101;

/// A pcap file being written.
pub struct Writer<W: Write> {
    out: W,
}

impl Writer<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the global header.
    ///
    /// # Errors
    /// When the file cannot be created or written.
    pub fn create(path: &Path) -> io::Result<Self> {
        Writer::new(BufWriter::new(File::create(path)?))
    }
}

impl<W: Write> Writer<W> {
    // ANCHOR: header
    /// Writes the 24-byte global header to `out`.
    ///
    /// # Errors
    /// When `out` fails.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&MAGIC.to_ne_bytes())?;
        out.write_all(&VERSION.0.to_ne_bytes())?;
        out.write_all(&VERSION.1.to_ne_bytes())?;
        out.write_all(&0i32.to_ne_bytes())?; // time zone offset: always UTC
        out.write_all(&0u32.to_ne_bytes())?; // timestamp accuracy: unused
        out.write_all(&SNAPLEN.to_ne_bytes())?;
        out.write_all(&LINKTYPE_RAW.to_ne_bytes())?;
        Ok(Self { out })
    }
    // ANCHOR_END: header

    // ANCHOR: record
    /// Appends one packet, received at `when`, and flushes it, so the file is whole whenever
    /// the capture stops. A packet longer than [`SNAPLEN`] is cut, and its record says so.
    ///
    /// # Errors
    /// When `out` fails.
    pub fn write(&mut self, when: SystemTime, packet: &[u8]) -> io::Result<()> {
        let since_epoch = when.duration_since(UNIX_EPOCH).unwrap_or_default();
        let original = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let kept = original.min(SNAPLEN);
        // Seconds in 32 bits: the classic format's own limit (year 2106).
        let seconds = u32::try_from(since_epoch.as_secs()).unwrap_or(u32::MAX);
        self.out.write_all(&seconds.to_ne_bytes())?;
        self.out.write_all(&since_epoch.subsec_micros().to_ne_bytes())?;
        self.out.write_all(&kept.to_ne_bytes())?;
        self.out.write_all(&original.to_ne_bytes())?;
        self.out.write_all(&packet[..kept as usize])?;
        self.out.flush()
    }
    // ANCHOR_END: record
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn header_and_record_layout() {
        let mut writer = Writer::new(Vec::new()).unwrap();
        let when = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        writer.write(when, &[0x45, 1, 2]).unwrap();
        let bytes = writer.out;
        assert_eq!(bytes.len(), 24 + 16 + 3);
        let word = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(word(0), 0xa1b2_c3d4);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 2);
        assert_eq!(u16::from_ne_bytes([bytes[6], bytes[7]]), 4);
        assert_eq!((word(16), word(20)), (65_535, 101));
        assert_eq!((word(24), word(28)), (1_700_000_000, 123_456));
        assert_eq!((word(32), word(36)), (3, 3));
        assert_eq!(&bytes[40..], &[0x45, 1, 2]);
    }

    #[test]
    fn long_packets_are_cut_to_the_snaplen() {
        let mut writer = Writer::new(Vec::new()).unwrap();
        writer.write(UNIX_EPOCH, &vec![0u8; 70_000]).unwrap();
        let record = &writer.out[24..40];
        assert_eq!(u32::from_ne_bytes(record[8..12].try_into().unwrap()), SNAPLEN);
        assert_eq!(u32::from_ne_bytes(record[12..16].try_into().unwrap()), 70_000);
        assert_eq!(writer.out.len(), 24 + 16 + 65_535);
    }
}
