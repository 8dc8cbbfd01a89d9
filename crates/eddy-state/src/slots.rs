//! A vector that keeps a single element inline: most keys have one namespace (plain
//! keyed state, one open window), so their entry needs no second allocation and no
//! second pointer to follow.

/// Zero, one (inline) or many (heap) elements.
#[derive(Clone, Debug, Default)]
pub(crate) enum Slots<T> {
    #[default]
    Empty,
    One(T),
    Many(Vec<T>),
}

impl<T> Slots<T> {
    pub fn one(value: T) -> Self {
        Slots::One(value)
    }

    pub fn len(&self) -> usize {
        match self {
            Slots::Empty => 0,
            Slots::One(_) => 1,
            Slots::Many(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_slice(&self) -> &[T] {
        match self {
            Slots::Empty => &[],
            Slots::One(v) => std::slice::from_ref(v),
            Slots::Many(v) => v,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Slots::Empty => &mut [],
            Slots::One(v) => std::slice::from_mut(v),
            Slots::Many(v) => v,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.as_mut_slice().iter_mut()
    }

    pub fn push(&mut self, value: T) {
        match std::mem::take(self) {
            Slots::Empty => *self = Slots::One(value),
            Slots::One(first) => *self = Slots::Many(vec![first, value]),
            Slots::Many(mut v) => {
                v.push(value);
                *self = Slots::Many(v);
            }
        }
    }

    /// Removes element `index` (the last one takes its place). Panics if out of range.
    pub fn swap_remove(&mut self, index: usize) -> T {
        match std::mem::take(self) {
            Slots::Empty => panic!("swap_remove on empty slots"),
            Slots::One(v) => {
                assert_eq!(index, 0, "index out of range");
                v
            }
            Slots::Many(mut v) => {
                let removed = v.swap_remove(index);
                *self = match v.len() {
                    0 => Slots::Empty,
                    _ => Slots::Many(v),
                };
                removed
            }
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match std::mem::take(self) {
            Slots::Empty => {}
            Slots::One(v) => {
                if keep(&v) {
                    *self = Slots::One(v);
                }
            }
            Slots::Many(mut v) => {
                v.retain(|x| keep(x));
                if !v.is_empty() {
                    *self = Slots::Many(v);
                }
            }
        }
    }
}

impl<T> std::ops::Index<usize> for Slots<T> {
    type Output = T;
    fn index(&self, index: usize) -> &T {
        &self.as_slice()[index]
    }
}

impl<T> std::ops::IndexMut<usize> for Slots<T> {
    fn index_mut(&mut self, index: usize) -> &mut T {
        &mut self.as_mut_slice()[index]
    }
}

impl<T> FromIterator<T> for Slots<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut slots = Slots::Empty;
        for item in iter {
            slots.push(item);
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vector() {
        let mut s: Slots<u32> = Slots::default();
        assert!(s.is_empty());
        s.push(1);
        s.push(2);
        s.push(3);
        assert_eq!(s.as_slice(), &[1, 2, 3]);
        assert_eq!(s.swap_remove(0), 1);
        assert_eq!(s.as_slice(), &[3, 2]);
        s.retain(|x| *x == 2);
        assert_eq!(s.as_slice(), &[2]);
        assert_eq!(s.swap_remove(0), 2);
        assert!(s.is_empty());
        let s: Slots<u32> = (0..1).collect();
        assert!(matches!(s, Slots::One(0)));
    }
}
