// The 1000 ImageNet-1k (ILSVRC-2012) class names in class-index order, the
// short forms used by torchvision and PyTorch Hub (pytorch/hub
// imagenet_classes.txt). Two names repeat (crane 134/517, maillot 638/639)
// because the WordNet synsets differ but share a first lemma.
/** The 1,000 ImageNet-1k class names in class-id order, for pretrained models without labels. */
export const IMAGENET_1K_LABELS: readonly string[] = Object.freeze([
  'tench', 'goldfish', 'great white shark', 'tiger shark', 'hammerhead', // 0
  'electric ray', 'stingray', 'cock', 'hen', 'ostrich', // 5
  'brambling', 'goldfinch', 'house finch', 'junco', 'indigo bunting', // 10
  'robin', 'bulbul', 'jay', 'magpie', 'chickadee', // 15
  'water ouzel', 'kite', 'bald eagle', 'vulture', 'great grey owl', // 20
  'European fire salamander', 'common newt', 'eft', 'spotted salamander', 'axolotl', // 25
  'bullfrog', 'tree frog', 'tailed frog', 'loggerhead', 'leatherback turtle', // 30
  'mud turtle', 'terrapin', 'box turtle', 'banded gecko', 'common iguana', // 35
  'American chameleon', 'whiptail', 'agama', 'frilled lizard', 'alligator lizard', // 40
  'Gila monster', 'green lizard', 'African chameleon', 'Komodo dragon', 'African crocodile', // 45
  'American alligator', 'triceratops', 'thunder snake', 'ringneck snake', 'hognose snake', // 50
  'green snake', 'king snake', 'garter snake', 'water snake', 'vine snake', // 55
  'night snake', 'boa constrictor', 'rock python', 'Indian cobra', 'green mamba', // 60
  'sea snake', 'horned viper', 'diamondback', 'sidewinder', 'trilobite', // 65
  'harvestman', 'scorpion', 'black and gold garden spider', 'barn spider', 'garden spider', // 70
  'black widow', 'tarantula', 'wolf spider', 'tick', 'centipede', // 75
  'black grouse', 'ptarmigan', 'ruffed grouse', 'prairie chicken', 'peacock', // 80
  'quail', 'partridge', 'African grey', 'macaw', 'sulphur-crested cockatoo', // 85
  'lorikeet', 'coucal', 'bee eater', 'hornbill', 'hummingbird', // 90
  'jacamar', 'toucan', 'drake', 'red-breasted merganser', 'goose', // 95
  'black swan', 'tusker', 'echidna', 'platypus', 'wallaby', // 100
  'koala', 'wombat', 'jellyfish', 'sea anemone', 'brain coral', // 105
  'flatworm', 'nematode', 'conch', 'snail', 'slug', // 110
  'sea slug', 'chiton', 'chambered nautilus', 'Dungeness crab', 'rock crab', // 115
  'fiddler crab', 'king crab', 'American lobster', 'spiny lobster', 'crayfish', // 120
  'hermit crab', 'isopod', 'white stork', 'black stork', 'spoonbill', // 125
  'flamingo', 'little blue heron', 'American egret', 'bittern', 'crane', // 130
  'limpkin', 'European gallinule', 'American coot', 'bustard', 'ruddy turnstone', // 135
  'red-backed sandpiper', 'redshank', 'dowitcher', 'oystercatcher', 'pelican', // 140
  'king penguin', 'albatross', 'grey whale', 'killer whale', 'dugong', // 145
  'sea lion', 'Chihuahua', 'Japanese spaniel', 'Maltese dog', 'Pekinese', // 150
  'Shih-Tzu', 'Blenheim spaniel', 'papillon', 'toy terrier', 'Rhodesian ridgeback', // 155
  'Afghan hound', 'basset', 'beagle', 'bloodhound', 'bluetick', // 160
  'black-and-tan coonhound', 'Walker hound', 'English foxhound', 'redbone', 'borzoi', // 165
  'Irish wolfhound', 'Italian greyhound', 'whippet', 'Ibizan hound', 'Norwegian elkhound', // 170
  'otterhound', 'Saluki', 'Scottish deerhound', 'Weimaraner', 'Staffordshire bullterrier', // 175
  'American Staffordshire terrier', 'Bedlington terrier', 'Border terrier', 'Kerry blue terrier', 'Irish terrier', // 180
  'Norfolk terrier', 'Norwich terrier', 'Yorkshire terrier', 'wire-haired fox terrier', 'Lakeland terrier', // 185
  'Sealyham terrier', 'Airedale', 'cairn', 'Australian terrier', 'Dandie Dinmont', // 190
  'Boston bull', 'miniature schnauzer', 'giant schnauzer', 'standard schnauzer', 'Scotch terrier', // 195
  'Tibetan terrier', 'silky terrier', 'soft-coated wheaten terrier', 'West Highland white terrier', 'Lhasa', // 200
  'flat-coated retriever', 'curly-coated retriever', 'golden retriever', 'Labrador retriever', 'Chesapeake Bay retriever', // 205
  'German short-haired pointer', 'vizsla', 'English setter', 'Irish setter', 'Gordon setter', // 210
  'Brittany spaniel', 'clumber', 'English springer', 'Welsh springer spaniel', 'cocker spaniel', // 215
  'Sussex spaniel', 'Irish water spaniel', 'kuvasz', 'schipperke', 'groenendael', // 220
  'malinois', 'briard', 'kelpie', 'komondor', 'Old English sheepdog', // 225
  'Shetland sheepdog', 'collie', 'Border collie', 'Bouvier des Flandres', 'Rottweiler', // 230
  'German shepherd', 'Doberman', 'miniature pinscher', 'Greater Swiss Mountain dog', 'Bernese mountain dog', // 235
  'Appenzeller', 'EntleBucher', 'boxer', 'bull mastiff', 'Tibetan mastiff', // 240
  'French bulldog', 'Great Dane', 'Saint Bernard', 'Eskimo dog', 'malamute', // 245
  'Siberian husky', 'dalmatian', 'affenpinscher', 'basenji', 'pug', // 250
  'Leonberg', 'Newfoundland', 'Great Pyrenees', 'Samoyed', 'Pomeranian', // 255
  'chow', 'keeshond', 'Brabancon griffon', 'Pembroke', 'Cardigan', // 260
  'toy poodle', 'miniature poodle', 'standard poodle', 'Mexican hairless', 'timber wolf', // 265
  'white wolf', 'red wolf', 'coyote', 'dingo', 'dhole', // 270
  'African hunting dog', 'hyena', 'red fox', 'kit fox', 'Arctic fox', // 275
  'grey fox', 'tabby', 'tiger cat', 'Persian cat', 'Siamese cat', // 280
  'Egyptian cat', 'cougar', 'lynx', 'leopard', 'snow leopard', // 285
  'jaguar', 'lion', 'tiger', 'cheetah', 'brown bear', // 290
  'American black bear', 'ice bear', 'sloth bear', 'mongoose', 'meerkat', // 295
  'tiger beetle', 'ladybug', 'ground beetle', 'long-horned beetle', 'leaf beetle', // 300
  'dung beetle', 'rhinoceros beetle', 'weevil', 'fly', 'bee', // 305
  'ant', 'grasshopper', 'cricket', 'walking stick', 'cockroach', // 310
  'mantis', 'cicada', 'leafhopper', 'lacewing', 'dragonfly', // 315
  'damselfly', 'admiral', 'ringlet', 'monarch', 'cabbage butterfly', // 320
  'sulphur butterfly', 'lycaenid', 'starfish', 'sea urchin', 'sea cucumber', // 325
  'wood rabbit', 'hare', 'Angora', 'hamster', 'porcupine', // 330
  'fox squirrel', 'marmot', 'beaver', 'guinea pig', 'sorrel', // 335
  'zebra', 'hog', 'wild boar', 'warthog', 'hippopotamus', // 340
  'ox', 'water buffalo', 'bison', 'ram', 'bighorn', // 345
  'ibex', 'hartebeest', 'impala', 'gazelle', 'Arabian camel', // 350
  'llama', 'weasel', 'mink', 'polecat', 'black-footed ferret', // 355
  'otter', 'skunk', 'badger', 'armadillo', 'three-toed sloth', // 360
  'orangutan', 'gorilla', 'chimpanzee', 'gibbon', 'siamang', // 365
  'guenon', 'patas', 'baboon', 'macaque', 'langur', // 370
  'colobus', 'proboscis monkey', 'marmoset', 'capuchin', 'howler monkey', // 375
  'titi', 'spider monkey', 'squirrel monkey', 'Madagascar cat', 'indri', // 380
  'Indian elephant', 'African elephant', 'lesser panda', 'giant panda', 'barracouta', // 385
  'eel', 'coho', 'rock beauty', 'anemone fish', 'sturgeon', // 390
  'gar', 'lionfish', 'puffer', 'abacus', 'abaya', // 395
  'academic gown', 'accordion', 'acoustic guitar', 'aircraft carrier', 'airliner', // 400
  'airship', 'altar', 'ambulance', 'amphibian', 'analog clock', // 405
  'apiary', 'apron', 'ashcan', 'assault rifle', 'backpack', // 410
  'bakery', 'balance beam', 'balloon', 'ballpoint', 'Band Aid', // 415
  'banjo', 'bannister', 'barbell', 'barber chair', 'barbershop', // 420
  'barn', 'barometer', 'barrel', 'barrow', 'baseball', // 425
  'basketball', 'bassinet', 'bassoon', 'bathing cap', 'bath towel', // 430
  'bathtub', 'beach wagon', 'beacon', 'beaker', 'bearskin', // 435
  'beer bottle', 'beer glass', 'bell cote', 'bib', 'bicycle-built-for-two', // 440
  'bikini', 'binder', 'binoculars', 'birdhouse', 'boathouse', // 445
  'bobsled', 'bolo tie', 'bonnet', 'bookcase', 'bookshop', // 450
  'bottlecap', 'bow', 'bow tie', 'brass', 'brassiere', // 455
  'breakwater', 'breastplate', 'broom', 'bucket', 'buckle', // 460
  'bulletproof vest', 'bullet train', 'butcher shop', 'cab', 'caldron', // 465
  'candle', 'cannon', 'canoe', 'can opener', 'cardigan', // 470
  'car mirror', 'carousel', "carpenter's kit", 'carton', 'car wheel', // 475
  'cash machine', 'cassette', 'cassette player', 'castle', 'catamaran', // 480
  'CD player', 'cello', 'cellular telephone', 'chain', 'chainlink fence', // 485
  'chain mail', 'chain saw', 'chest', 'chiffonier', 'chime', // 490
  'china cabinet', 'Christmas stocking', 'church', 'cinema', 'cleaver', // 495
  'cliff dwelling', 'cloak', 'clog', 'cocktail shaker', 'coffee mug', // 500
  'coffeepot', 'coil', 'combination lock', 'computer keyboard', 'confectionery', // 505
  'container ship', 'convertible', 'corkscrew', 'cornet', 'cowboy boot', // 510
  'cowboy hat', 'cradle', 'crane', 'crash helmet', 'crate', // 515
  'crib', 'Crock Pot', 'croquet ball', 'crutch', 'cuirass', // 520
  'dam', 'desk', 'desktop computer', 'dial telephone', 'diaper', // 525
  'digital clock', 'digital watch', 'dining table', 'dishrag', 'dishwasher', // 530
  'disk brake', 'dock', 'dogsled', 'dome', 'doormat', // 535
  'drilling platform', 'drum', 'drumstick', 'dumbbell', 'Dutch oven', // 540
  'electric fan', 'electric guitar', 'electric locomotive', 'entertainment center', 'envelope', // 545
  'espresso maker', 'face powder', 'feather boa', 'file', 'fireboat', // 550
  'fire engine', 'fire screen', 'flagpole', 'flute', 'folding chair', // 555
  'football helmet', 'forklift', 'fountain', 'fountain pen', 'four-poster', // 560
  'freight car', 'French horn', 'frying pan', 'fur coat', 'garbage truck', // 565
  'gasmask', 'gas pump', 'goblet', 'go-kart', 'golf ball', // 570
  'golfcart', 'gondola', 'gong', 'gown', 'grand piano', // 575
  'greenhouse', 'grille', 'grocery store', 'guillotine', 'hair slide', // 580
  'hair spray', 'half track', 'hammer', 'hamper', 'hand blower', // 585
  'hand-held computer', 'handkerchief', 'hard disc', 'harmonica', 'harp', // 590
  'harvester', 'hatchet', 'holster', 'home theater', 'honeycomb', // 595
  'hook', 'hoopskirt', 'horizontal bar', 'horse cart', 'hourglass', // 600
  'iPod', 'iron', "jack-o'-lantern", 'jean', 'jeep', // 605
  'jersey', 'jigsaw puzzle', 'jinrikisha', 'joystick', 'kimono', // 610
  'knee pad', 'knot', 'lab coat', 'ladle', 'lampshade', // 615
  'laptop', 'lawn mower', 'lens cap', 'letter opener', 'library', // 620
  'lifeboat', 'lighter', 'limousine', 'liner', 'lipstick', // 625
  'Loafer', 'lotion', 'loudspeaker', 'loupe', 'lumbermill', // 630
  'magnetic compass', 'mailbag', 'mailbox', 'maillot', 'maillot', // 635
  'manhole cover', 'maraca', 'marimba', 'mask', 'matchstick', // 640
  'maypole', 'maze', 'measuring cup', 'medicine chest', 'megalith', // 645
  'microphone', 'microwave', 'military uniform', 'milk can', 'minibus', // 650
  'miniskirt', 'minivan', 'missile', 'mitten', 'mixing bowl', // 655
  'mobile home', 'Model T', 'modem', 'monastery', 'monitor', // 660
  'moped', 'mortar', 'mortarboard', 'mosque', 'mosquito net', // 665
  'motor scooter', 'mountain bike', 'mountain tent', 'mouse', 'mousetrap', // 670
  'moving van', 'muzzle', 'nail', 'neck brace', 'necklace', // 675
  'nipple', 'notebook', 'obelisk', 'oboe', 'ocarina', // 680
  'odometer', 'oil filter', 'organ', 'oscilloscope', 'overskirt', // 685
  'oxcart', 'oxygen mask', 'packet', 'paddle', 'paddlewheel', // 690
  'padlock', 'paintbrush', 'pajama', 'palace', 'panpipe', // 695
  'paper towel', 'parachute', 'parallel bars', 'park bench', 'parking meter', // 700
  'passenger car', 'patio', 'pay-phone', 'pedestal', 'pencil box', // 705
  'pencil sharpener', 'perfume', 'Petri dish', 'photocopier', 'pick', // 710
  'pickelhaube', 'picket fence', 'pickup', 'pier', 'piggy bank', // 715
  'pill bottle', 'pillow', 'ping-pong ball', 'pinwheel', 'pirate', // 720
  'pitcher', 'plane', 'planetarium', 'plastic bag', 'plate rack', // 725
  'plow', 'plunger', 'Polaroid camera', 'pole', 'police van', // 730
  'poncho', 'pool table', 'pop bottle', 'pot', "potter's wheel", // 735
  'power drill', 'prayer rug', 'printer', 'prison', 'projectile', // 740
  'projector', 'puck', 'punching bag', 'purse', 'quill', // 745
  'quilt', 'racer', 'racket', 'radiator', 'radio', // 750
  'radio telescope', 'rain barrel', 'recreational vehicle', 'reel', 'reflex camera', // 755
  'refrigerator', 'remote control', 'restaurant', 'revolver', 'rifle', // 760
  'rocking chair', 'rotisserie', 'rubber eraser', 'rugby ball', 'rule', // 765
  'running shoe', 'safe', 'safety pin', 'saltshaker', 'sandal', // 770
  'sarong', 'sax', 'scabbard', 'scale', 'school bus', // 775
  'schooner', 'scoreboard', 'screen', 'screw', 'screwdriver', // 780
  'seat belt', 'sewing machine', 'shield', 'shoe shop', 'shoji', // 785
  'shopping basket', 'shopping cart', 'shovel', 'shower cap', 'shower curtain', // 790
  'ski', 'ski mask', 'sleeping bag', 'slide rule', 'sliding door', // 795
  'slot', 'snorkel', 'snowmobile', 'snowplow', 'soap dispenser', // 800
  'soccer ball', 'sock', 'solar dish', 'sombrero', 'soup bowl', // 805
  'space bar', 'space heater', 'space shuttle', 'spatula', 'speedboat', // 810
  'spider web', 'spindle', 'sports car', 'spotlight', 'stage', // 815
  'steam locomotive', 'steel arch bridge', 'steel drum', 'stethoscope', 'stole', // 820
  'stone wall', 'stopwatch', 'stove', 'strainer', 'streetcar', // 825
  'stretcher', 'studio couch', 'stupa', 'submarine', 'suit', // 830
  'sundial', 'sunglass', 'sunglasses', 'sunscreen', 'suspension bridge', // 835
  'swab', 'sweatshirt', 'swimming trunks', 'swing', 'switch', // 840
  'syringe', 'table lamp', 'tank', 'tape player', 'teapot', // 845
  'teddy', 'television', 'tennis ball', 'thatch', 'theater curtain', // 850
  'thimble', 'thresher', 'throne', 'tile roof', 'toaster', // 855
  'tobacco shop', 'toilet seat', 'torch', 'totem pole', 'tow truck', // 860
  'toyshop', 'tractor', 'trailer truck', 'tray', 'trench coat', // 865
  'tricycle', 'trimaran', 'tripod', 'triumphal arch', 'trolleybus', // 870
  'trombone', 'tub', 'turnstile', 'typewriter keyboard', 'umbrella', // 875
  'unicycle', 'upright', 'vacuum', 'vase', 'vault', // 880
  'velvet', 'vending machine', 'vestment', 'viaduct', 'violin', // 885
  'volleyball', 'waffle iron', 'wall clock', 'wallet', 'wardrobe', // 890
  'warplane', 'washbasin', 'washer', 'water bottle', 'water jug', // 895
  'water tower', 'whiskey jug', 'whistle', 'wig', 'window screen', // 900
  'window shade', 'Windsor tie', 'wine bottle', 'wing', 'wok', // 905
  'wooden spoon', 'wool', 'worm fence', 'wreck', 'yawl', // 910
  'yurt', 'web site', 'comic book', 'crossword puzzle', 'street sign', // 915
  'traffic light', 'book jacket', 'menu', 'plate', 'guacamole', // 920
  'consomme', 'hot pot', 'trifle', 'ice cream', 'ice lolly', // 925
  'French loaf', 'bagel', 'pretzel', 'cheeseburger', 'hotdog', // 930
  'mashed potato', 'head cabbage', 'broccoli', 'cauliflower', 'zucchini', // 935
  'spaghetti squash', 'acorn squash', 'butternut squash', 'cucumber', 'artichoke', // 940
  'bell pepper', 'cardoon', 'mushroom', 'Granny Smith', 'strawberry', // 945
  'orange', 'lemon', 'fig', 'pineapple', 'banana', // 950
  'jackfruit', 'custard apple', 'pomegranate', 'hay', 'carbonara', // 955
  'chocolate sauce', 'dough', 'meat loaf', 'pizza', 'potpie', // 960
  'burrito', 'red wine', 'espresso', 'cup', 'eggnog', // 965
  'alp', 'bubble', 'cliff', 'coral reef', 'geyser', // 970
  'lakeside', 'promontory', 'sandbar', 'seashore', 'valley', // 975
  'volcano', 'ballplayer', 'groom', 'scuba diver', 'rapeseed', // 980
  'daisy', "yellow lady's slipper", 'corn', 'acorn', 'hip', // 985
  'buckeye', 'coral fungus', 'agaric', 'gyromitra', 'stinkhorn', // 990
  'earthstar', 'hen-of-the-woods', 'bolete', 'ear', 'toilet tissue', // 995
]);
