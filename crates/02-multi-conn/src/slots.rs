//! The slot table: where an event loop keeps what it knows about each client.
//!
//! The kernel tells an event loop "token 7 is readable"; the loop must find client 7 at once.
//! So clients live in a vector of slots, a client's slot number is its token, and a freed slot
//! is handed to the next client (the list of free slots keeps the vector from growing forever
//! while clients come and go). This is what the `selectors` module's `data=` field does for
//! Python: it hangs each client's state on its registration.
//!
//! Chapter 03's room keeps its members in the same table.

// ANCHOR: slots
/// Values of type `T` in numbered slots, reused as values come and go.
#[derive(Debug)]
pub struct Slots<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Slots<T> {
    /// Keeps `value` in a free slot (a freed one first, else a new one at the end) and returns
    /// the slot's number.
    pub fn insert(&mut self, value: T) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(value);
                slot
            }
            None => {
                self.slots.push(Some(value));
                self.slots.len() - 1
            }
        }
    }

    /// The value in `slot`, if the slot is in use.
    pub fn get(&mut self, slot: usize) -> Option<&mut T> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// Takes the value out of `slot`, freeing the slot for the next one.
    pub fn remove(&mut self, slot: usize) -> Option<T> {
        let value = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(value)
    }
    // ANCHOR_END: slots

    /// Every slot number, in use or free: `for slot in table.numbers()` then [`Self::get`]
    /// leaves the table free to borrow inside the loop.
    pub fn numbers(&self) -> std::ops::Range<usize> {
        0..self.slots.len()
    }

    /// The values in use.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.slots.iter().flatten()
    }

    /// How many slots are in use.
    pub fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Takes every value out, leaving the table empty.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.free.clear();
        self.slots.drain(..).flatten()
    }
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self { slots: Vec::new(), free: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_and_numbers_cover_every_slot() {
        let mut table = Slots::default();
        assert_eq!((table.insert('a'), table.insert('b'), table.insert('c')), (0, 1, 2));
        assert_eq!(table.remove(1), Some('b'));
        assert_eq!(table.remove(1), None, "a freed slot holds nothing");
        assert_eq!(table.live(), 2);
        assert_eq!(table.insert('d'), 1, "the freed slot comes first");
        assert_eq!(table.numbers(), 0..3);
        assert_eq!(table.iter().collect::<String>(), "adc");
        assert_eq!(table.get(2), Some(&mut 'c'));
        assert_eq!(table.drain().count(), 3);
        assert_eq!((table.live(), table.insert('e')), (0, 0));
    }
}
