//! CSV text in sections, the way AIPerf lays out its summary files: tables of different widths
//! separated by blank lines, every field quoted by the `csv` crate where it needs to be.

/// A CSV document built row by row.
pub struct CsvText {
    /// The sections closed so far (a blank line ends each).
    done: Vec<u8>,
    /// The section being written.
    writer: csv::Writer<Vec<u8>>,
}

impl Default for CsvText {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvText {
    /// An empty document.
    pub fn new() -> Self {
        Self {
            done: Vec::new(),
            writer: section(),
        }
    }

    /// One record.
    pub fn row<I, S>(&mut self, fields: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        // Writing into memory cannot fail.
        let _ = self.writer.write_record(fields);
        self
    }

    /// An empty line between sections.
    pub fn blank(&mut self) -> &mut Self {
        // The csv crate writes an empty record as `""`, so the line is added by hand.
        self.close_section();
        self.done.push(b'\n');
        self
    }

    /// The text.
    pub fn finish(mut self) -> String {
        self.close_section();
        String::from_utf8_lossy(&self.done).into_owned()
    }

    fn close_section(&mut self) {
        let writer = std::mem::replace(&mut self.writer, section());
        if let Ok(bytes) = writer.into_inner() {
            self.done.extend_from_slice(&bytes);
        }
    }
}

/// A writer for one section: rows of any width.
fn section() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sections_of_any_width_with_quoting_where_needed() {
        let mut csv = super::CsvText::new();
        csv.row(["a", "b,c"])
            .row(["1", "say \"x\""])
            .blank()
            .row(["Metadata"]);
        assert_eq!(csv.finish(), "a,\"b,c\"\n1,\"say \"\"x\"\"\"\n\nMetadata\n");
    }
}
