//! The printable key card: an A4 PDF with the card's serial, the user ID, the grid of key numbers and keys,
//! and short instructions in Danish. The clear keys exist only in this document.

use std::io::Write;
use std::path::{Path, PathBuf};

use noegle_core::keycard::{ClearCard, display_serial};
use noegle_core::user::User;
use printpdf::{
    BuiltinFont, Color, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rgb, TextItem,
};

/// Columns of the key grid.
const COLUMNS: usize = 4;

fn text(ops: &mut Vec<Op>, x: f32, y: f32, font: BuiltinFont, size: f32, s: &str) {
    ops.push(Op::StartTextSection);
    ops.push(Op::SetTextCursor { pos: Point::new(Mm(x), Mm(y)) });
    ops.push(Op::SetFont { font: PdfFontHandle::Builtin(font), size: Pt(size) });
    ops.push(Op::ShowText { items: vec![TextItem::Text(s.to_string())] });
    ops.push(Op::EndTextSection);
}

/// Renders the card as PDF bytes.
pub fn render(user: &User, card: &ClearCard) -> Vec<u8> {
    let mut doc = PdfDocument::new(&format!("Nøglekort {}", display_serial(card.serial.as_str())));
    let mut ops = Vec::new();
    let blue = Color::Rgb(Rgb { r: 0.04, g: 0.24, b: 0.57, icc_profile: None });
    let black = Color::Rgb(Rgb { r: 0.0, g: 0.0, b: 0.0, icc_profile: None });
    ops.push(Op::SetFillColor { col: blue });
    text(&mut ops, 20.0, 278.0, BuiltinFont::HelveticaBold, 22.0, "nøgle · Nøglekort");
    ops.push(Op::SetFillColor { col: black });
    text(
        &mut ops,
        20.0,
        268.0,
        BuiltinFont::Helvetica,
        12.0,
        &format!("Nøglekort nr. {}", display_serial(card.serial.as_str())),
    );
    text(&mut ops, 20.0, 261.0, BuiltinFont::Helvetica, 12.0, &format!("Bruger-id: {}", user.user_id));
    text(&mut ops, 20.0, 254.0, BuiltinFont::Helvetica, 12.0, &format!("Navn: {}", user.display_name));
    let instructions = [
        "Når du logger på, beder log-in-boksen om nøglen til et bestemt nøglenummer.",
        "Find nummeret herunder, og indtast den 6-cifrede nøgle, der står ud for det.",
        "Hver nøgle kan kun bruges én gang. Når der er få nøgler tilbage, får du et nyt kort.",
        "Opbevar kortet sikkert. Del det aldrig med andre — heller ikke med support.",
    ];
    for (i, line) in instructions.iter().enumerate() {
        text(&mut ops, 20.0, 244.0 - 5.5 * i as f32, BuiltinFont::Helvetica, 10.0, line);
    }
    let keys: Vec<(&String, &String)> = card.keys.iter().collect();
    let rows = keys.len().div_ceil(COLUMNS);
    let (top, row_h, col_w) = (211.0, 5.2, 44.0);
    for col in 0..COLUMNS {
        let x = 20.0 + col_w * col as f32;
        text(&mut ops, x, top + 6.0, BuiltinFont::HelveticaBold, 9.0, "Nr.    Nøgle");
        for row in 0..rows {
            if let Some((n, k)) = keys.get(col * rows + row) {
                let y = top - row_h * row as f32;
                text(&mut ops, x, y, BuiltinFont::CourierBold, 10.0, n);
                text(&mut ops, x + 12.0, y, BuiltinFont::Courier, 10.0, k);
            }
        }
    }
    let page = PdfPage::new(Mm(210.0), Mm(297.0), ops);
    doc.with_pages(vec![page]).save(&PdfSaveOptions::default(), &mut Vec::new())
}

/// Writes `bytes` to a new file at `path`, readable only by its owner (0600, whatever the umask).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes a card the server issued by itself (few keys left) to `DATA_DIR/outbox/`, for the operator to
/// print and send (the outbox 0700, the card 0600); answers the file's path.
pub fn write_to_outbox(data_dir: &Path, user: &User, card: &ClearCard) -> std::io::Result<PathBuf> {
    let dir = data_dir.join(crate::secrets::OUTBOX);
    crate::secrets::create_private_dir(&dir)?;
    let path = dir.join(format!("keycard-{}-{}.pdf", user.user_id, card.serial));
    write_private(&path, &render(user, card))?;
    Ok(path)
}
