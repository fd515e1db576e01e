//! R-KC3 through the log-in box: a low card brings a new printed card, and the user is told.

use noegle_core::keycard::{CardStatus, REISSUE_BELOW};
use noegle_testkit::{Backend, Browser, PASSWORD, TestServer};

use crate::{CB, authorize_url};

#[tokio::test]
async fn a_low_card_is_reissued_to_the_outbox_and_the_user_is_told() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (alice, card) = server.user_with_card("alice").await;
    let c = server.client("Bank", CB, false).await;
    let url = authorize_url(&server, c.client.client_id.as_str(), &[]);
    // Use all but REISSUE_BELOW keys.
    for n in card.keys.keys().take(148 - REISSUE_BELOW as usize) {
        assert!(server.state.store.consume_key(&card.serial, n, server.now()).await.unwrap());
    }
    let b = server.browser();
    let p2 = b.password(&b.open(&url).await, "alice", PASSWORD).await;
    assert!(p2.body.contains(&format!("{REISSUE_BELOW} ubrugte nøgler tilbage")), "{}", p2.body);
    let done = b.key(&p2, &card.keys[&Browser::asked_number(&p2)]).await;
    assert_eq!(done.status, 303);

    let cards = server.state.store.cards_of(&alice.sub).await.unwrap();
    let new = cards.iter().find(|c| c.status == CardStatus::Pending).expect("a new card is issued");
    let pdf = server.data_dir().join("outbox").join(format!("keycard-alice-{}.pdf", new.serial));
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"), "printable card in the outbox");

    // The next log-in still asks the old card, and says a new one is on its way.
    let p2 = b.password(&b.open(&url).await, "alice", PASSWORD).await;
    let old = noegle_core::keycard::display_serial(card.serial.as_str());
    assert!(p2.body.contains(&old), "the old card is asked while it has keys");
    assert!(p2.body.contains("Et nyt nøglekort er på vej"), "{}", p2.body);
}
